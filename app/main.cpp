// smarthost entry point (placeholder until the CLI dispatcher lands).
int main() { return 0; }
