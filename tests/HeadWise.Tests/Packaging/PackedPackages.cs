namespace HeadWise.Tests.Packaging;

/// <summary>
/// The repository's two packages, packed once per test run into a local folder (the library HeadWise.Core and the tool
/// headwise), with a NuGet set-up that restores offline: the local folder as the only source, the machine's package cache
/// as a read-only fallback for TorchSharp, libtorch and the rest, and a private package folder so a stale HeadWise.Core of
/// the same version from an earlier run is never used.
/// </summary>
public sealed class PackedPackages : IDisposable
{
    public const string Version = "0.1.0";

    public PackedPackages()
    {
        Root = TestPaths.NewTempDir("hw-packages");
        Feed = Path.Combine(Root, "feed");
        Directory.CreateDirectory(Feed);
        var cache = System.Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
            : Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        NuGetConfig = Path.Combine(Root, "nuget.config");
        File.WriteAllText(NuGetConfig, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{Feed}" />
              </packageSources>
              <fallbackPackageFolders>
                <add key="machine" value="{cache}" />
              </fallbackPackageFolders>
            </configuration>
            """);
        Environment = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(Root, "packages") };
        // The same command the README gives for building the local package source.
        foreach (var project in new[] { "src/HeadWise/HeadWise.csproj", "src/HeadWise.Cli/HeadWise.Cli.csproj" })
            ProcessRunner.Check("dotnet", ["pack", Path.Combine(RepoRoot, project), "-c", "Release", "-o", Feed, "--no-restore", "--nologo"], RepoRoot, timeoutSeconds: 900);
    }

    /// <summary>Scratch folder outside the repository.</summary>
    public string Root { get; }
    /// <summary>The local package source holding the packed .nupkg files.</summary>
    public string Feed { get; }
    /// <summary>nuget.config: the local source only, the machine's package cache as fallback.</summary>
    public string NuGetConfig { get; }
    /// <summary>Environment for child dotnet processes (their own package folder).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; }

    public static string RepoRoot { get; } = FindRepoRoot();

    private static string FindRepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "HeadWise.slnx"))) return d.FullName;
        throw new DirectoryNotFoundException("HeadWise.slnx not found above " + AppContext.BaseDirectory);
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

[CollectionDefinition(Name)]
public sealed class PackagesCollection : ICollectionFixture<PackedPackages>
{
    public const string Name = "packed packages";
}
