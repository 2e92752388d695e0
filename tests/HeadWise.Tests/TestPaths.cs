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

    /// <summary>A fresh empty directory under the system temp folder.</summary>
    public static string NewTempDir(string prefix = "hw")
    {
        var dir = Path.Combine(Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }
}
