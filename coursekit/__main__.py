"""Command line of the course kit: ``python -m coursekit COMMAND [options]``.

Commands:
  release   regenerate release/ from source/ with nbgrader generate_assignment
  demo      generate the release, autograde the bundled example submissions, print the grade table
"""
import argparse
import sys
from pathlib import Path

from . import KitError
from .course import generate_assignment


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m coursekit", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Run 'python -m coursekit COMMAND --help' for a command's options.")
    parser.add_argument("--course", type=Path, default=Path.cwd(),
                        help="the course folder, with source/ and nbgrader_config.py (default: the current folder)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("release", help="regenerate release/ from source/ (nbgrader generate_assignment)")
    commands.add_parser("demo", help="generate the release, autograde the example submissions, print the grades")
    args = parser.parse_args(argv)
    try:
        if args.command == "release":
            generate_assignment(args.course)
            print(f"release/ regenerated from source/ in {args.course.resolve()}")
        elif args.command == "demo":
            from .demo import run_demo
            print(run_demo(args.course))
    except KitError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
