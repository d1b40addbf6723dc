// Memory paths typed by the user (pure: no `vscode` import, so unit tests run it).

/** A new memory path typed by the user, checked before anything is sent. */
export function checkNewPath(value: string): string | undefined {
  const path = value.trim();
  if (!path) {
    return 'Type the new path, e.g. reference/tools.md';
  }
  if (path.startsWith('/') || path.split('/').some((part) => part === '..' || part === '.' || part === '')) {
    return 'A memory path is relative, without "..", "." or empty parts';
  }
  return undefined;
}
