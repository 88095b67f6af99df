from stockledger.cli import main

main()
