"""The pages shell: the home pages (each persona's to-do list). Above every business app (it reads
through their selectors), below the demo."""
