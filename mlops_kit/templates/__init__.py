"""Project templates that ``mlops-kit new-project`` writes: the project file and its seed code."""
