from course_utils.figures import main

main()
