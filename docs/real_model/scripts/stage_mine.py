"""Stage HEAD's version of a shared file plus only my own replacements (old -> new pairs), leaving others' edits unstaged."""
import subprocess, sys, json
def stage(path, pairs):
    head = subprocess.run(["git", "show", f"HEAD:{path}"], capture_output=True, text=True, check=True).stdout
    for old, new in pairs:
        assert head.count(old) == 1, (path, old, head.count(old))
        head = head.replace(old, new)
    blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], input=head, capture_output=True, text=True, check=True).stdout.strip()
    mode = "100644"
    subprocess.run(["git", "update-index", "--cacheinfo", f"{mode},{blob},{path}"], check=True)
if __name__ == "__main__":
    spec = json.load(open(sys.argv[1]))
    for path, pairs in spec.items():
        stage(path, pairs)
