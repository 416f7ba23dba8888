from keyvault.main import main

main()
