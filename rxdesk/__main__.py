from rxdesk.cli import main

raise SystemExit(main())
