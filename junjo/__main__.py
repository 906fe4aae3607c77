from junjo.cli import main

main()
