"""`python -m etl` runs the amili-etl command line."""

from etl.cli import main

if __name__ == "__main__":
    main()
