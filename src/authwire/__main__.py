from authwire.cli import main

main()
