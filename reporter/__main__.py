import sys

from reporter.cli.main import main

sys.exit(main())
