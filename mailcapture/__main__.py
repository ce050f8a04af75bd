from mailcapture.cli import main

raise SystemExit(main())
