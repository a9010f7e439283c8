import sys

from r3.cli import main

sys.exit(main())
