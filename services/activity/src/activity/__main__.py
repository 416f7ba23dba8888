from activity.main import main

main()
