import sys

from cardsmith._entry import main

sys.exit(main())
