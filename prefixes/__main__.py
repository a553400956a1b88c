from prefixes.cli import main

main()
