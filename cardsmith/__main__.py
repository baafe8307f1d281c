import sys

from cardsmith.cli.fast import main

sys.exit(main())
