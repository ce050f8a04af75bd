import sys

from previewer.cli import main

sys.exit(main())
