using System.IO.Compression;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Xunit.Abstractions;

namespace HeadWise.Tests.Packaging;

/// <summary>
/// The packages as a user gets them, outside the repository: a fresh console app that references HeadWise.Core from the
/// local folder builds and runs the README's C# sample on stories260K (the libstdc++ step comes from the package, with no
/// manual step), and `dotnet tool install` of headwise gives a working `headwise` command.
/// </summary>
[Collection(PackagesCollection.Name)]
public partial class PackageTests(PackedPackages packages, ITestOutputHelper output)
{
    [GeneratedRegex(@"## Use from C#.*?```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpSample();

    private static string ReadmeSample(string path)
    {
        var m = CSharpSample().Match(File.ReadAllText(path));
        Assert.True(m.Success, $"{path} has no ```csharp block under '## Use from C#'");
        return m.Groups[1].Value;
    }

    [Fact]
    public void A_fresh_console_app_builds_and_runs_the_readme_sample_from_the_package()
    {
        var sample = ReadmeSample(Path.Combine(PackedPackages.RepoRoot, "README.md"));
        Assert.Equal(sample, ReadmeSample(Path.Combine(PackedPackages.RepoRoot, "docs", "package-readme.md"))); // the package's readme shows the same code
        var app = Path.Combine(packages.Root, "MyHeads");
        var env = packages.Environment;
        ProcessRunner.Check("dotnet", ["new", "console", "-o", app], packages.Root, env);
        File.Copy(packages.NuGetConfig, Path.Combine(app, "nuget.config"));
        ProcessRunner.Check("dotnet", ["add", "package", "HeadWise.Core", "--version", PackedPackages.Version], app, env);
        ProcessRunner.Check("dotnet", ["add", "package", "libtorch-cpu-linux-x64", "--version", "2.10.0"], app, env);
        File.WriteAllText(Path.Combine(app, "Program.cs"), sample);
        var run = ProcessRunner.Check("dotnet", ["run", "--", TestPaths.Stories260KGguf], app, env);
        output.WriteLine(run.Both);
        var lines = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^\d+ tokens; head 4\.2 at the last token looks most at '.+' \(\d\.\d\d\)$", lines[0]);
        var plain = Assert.Single(lines, l => l.StartsWith("plain:   ")).Substring(9);
        var ablated = Assert.Single(lines, l => l.StartsWith("ablated: ")).Substring(9);
        Assert.StartsWith("Lily", plain.TrimStart()); // stories260K names her again (README: head 4.2 carries the name)
        Assert.NotEqual(plain, ablated);
    }

    [Fact]
    public void The_library_package_carries_metadata_docs_readme_and_the_native_step()
    {
        var nupkg = Path.Combine(packages.Feed, $"HeadWise.Core.{PackedPackages.Version}.nupkg");
        using var zip = ZipFile.OpenRead(nupkg);
        var names = zip.Entries.Select(e => e.FullName).ToHashSet();
        Assert.Contains("lib/net10.0/HeadWise.dll", names);
        Assert.Contains("lib/net10.0/HeadWise.xml", names);
        Assert.Contains("README.md", names);
        Assert.Contains("buildTransitive/HeadWise.Core.targets", names);
        Assert.Contains("buildTransitive/linux-x64/libheadwise_glibcxx_compat.so", names);
        using var nuspecStream = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec")).Open();
        var nuspec = XDocument.Load(nuspecStream);
        string Meta(string name) => nuspec.Descendants().FirstOrDefault(e => e.Name.LocalName == name)?.Value ?? "";
        Assert.NotEqual("Package Description", Meta("description"));
        Assert.Contains("HeadWise.Core", Meta("id"));
        Assert.Equal("MIT", Meta("license"));
        Assert.Equal("README.md", Meta("readme"));
        var deps = nuspec.Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => e.Attribute("id")!.Value).ToList();
        Assert.Contains("TorchSharp", deps);
        Assert.DoesNotContain("libtorch-cpu-linux-x64", deps); // the backend is the app's choice
    }

    [Fact]
    public void The_tool_installs_from_the_local_folder_and_runs_info()
    {
        var tools = Path.Combine(packages.Root, "tools");
        ProcessRunner.Check("dotnet", ["tool", "install", "--tool-path", tools, "--add-source", packages.Feed, "--configfile", packages.NuGetConfig,
            "headwise", "--version", PackedPackages.Version], packages.Root, packages.Environment);
        var info = ProcessRunner.Check(Path.Combine(tools, "headwise"), ["info", "--model", TestPaths.Stories260KGguf], packages.Root, packages.Environment);
        output.WriteLine(info.Both);
        Assert.Contains("layers           5", info.Stdout);
        Assert.Contains("heads            8 query, 4 KV", info.Stdout);
        var help = ProcessRunner.Check(Path.Combine(tools, "headwise"), ["--help"], packages.Root, packages.Environment);
        Assert.Contains("headwise [command] [options]", help.Stdout);
    }
}
