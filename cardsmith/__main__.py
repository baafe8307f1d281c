from cardsmith._entry import main
import sys

sys.exit(main())
