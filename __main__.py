"""teknofest-platform: the Pulumi program of the TEKNOFEST 2025 "Eğitim Eylemci" platform."""

from stacks.program import main

main()
