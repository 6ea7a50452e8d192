from rcsync.cli import main

main()
