namespace HeadWise.Tests;

/// <summary>Where the read-only project material (../shared) and scratch space are.</summary>
public static class TestPaths
{
    private static readonly Lazy<string> SharedDir = new(() =>
    {
        var env = Environment.GetEnvironmentVariable("HEADWISE_SHARED");
        if (!string.IsNullOrEmpty(env)) return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared");
            if (Directory.Exists(Path.Combine(candidate, "models"))) return candidate;
        }
        throw new DirectoryNotFoundException(
            "../shared (with models/ and data/) was not found above " + AppContext.BaseDirectory + "; set HEADWISE_SHARED");
    });

    public static string Shared => SharedDir.Value;
    public static string Stories260KGguf => Path.Combine(Shared, "models", "stories260K", "stories260K.gguf");
    public static string Stories260KBin => Path.Combine(Shared, "models", "stories260K", "stories260K.bin");
    public static string Stories260KTokenizerBin => Path.Combine(Shared, "models", "stories260K", "tok512.bin");
    public static string Stories260KSentencePiece => Path.Combine(Shared, "models", "stories260K", "tok512.model");
    /// <summary>TinyStories-656K, a Hugging Face folder as transformers wrote it (tied embeddings stored only as lm_head.weight).</summary>
    public static string TinyStories656K => Path.Combine(Shared, "models", "tinystories656K");
    public static string MobyDick => Path.Combine(Shared, "data", "moby-dick.txt");

    // One folder per test host for every scratch directory: tests write checkpoints, converted models and a 90 MB ONNX
    // copy, and runs that left them behind filled /tmp after a few hundred runs. The host deletes its folder when it
    // exits, but vstest kills a host that takes long to exit, so each host also deletes the folders of hosts that are
    // no longer running.
    private const string RunFolderPrefix = "headwise-tests-";
    private static readonly Lazy<string> RunTempRoot = new(() =>
    {
        DeleteFoldersOfEndedRuns();
        var root = Path.Combine(Path.GetTempPath(), $"{RunFolderPrefix}{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(root);
        return root;
    });

    private static void DeleteFoldersOfEndedRuns()
    {
        foreach (var dir in Directory.EnumerateDirectories(Path.GetTempPath(), RunFolderPrefix + "*"))
        {
            var pid = Path.GetFileName(dir)[RunFolderPrefix.Length..].Split('-')[0];
            if (int.TryParse(pid, out var id) && !Directory.Exists($"/proc/{id}")) TryDelete(dir);
        }
    }

    private static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); }
        catch (IOException) { }  // another host is deleting it too, or a file is held open: a later run retries
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>A fresh empty directory under this test host's scratch folder (deleted when the host exits).</summary>
    public static string NewTempDir(string prefix = "hw")
    {
        var dir = Path.Combine(RunTempRoot.Value, $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }
}
