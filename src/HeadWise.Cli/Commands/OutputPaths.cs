namespace HeadWise.Cli.Commands;

/// <summary>Checks output paths before any work, so a typo costs one line and no compute.</summary>
internal static class OutputPaths
{
    /// <summary>Throws when <paramref name="path"/>'s folder does not exist (a file is written there, the folder is not made).</summary>
    public static void CheckFileFolder(string? path, string option)
    {
        if (path is null) return;
        if (path.Length == 0 || path.EndsWith('/') || Directory.Exists(path)) throw new HeadWiseException($"{option} '{path}' is a folder; give a file name");
        var dir = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(dir) && !Directory.Exists(dir)) throw new HeadWiseException($"{option} {path}: the folder {dir} does not exist");
    }
}
