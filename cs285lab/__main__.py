from cs285lab.cli import main

raise SystemExit(main())
