from .cli import main

if __name__ == "__main__":  # a spawned worker process (codec-rt batch) imports this module too
    main()
