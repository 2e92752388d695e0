using System.Diagnostics;

namespace HeadWise.Tests.Hostile;

/// <summary>
/// Layouts real checkpoints come in that must load: a Hugging Face cache snapshot (a folder of relative symlinks into
/// ../../blobs), a read-only folder (run as an unprivileged user when the tests run as root, since root writes anywhere),
/// and a path with spaces and non-ASCII characters.
/// </summary>
public class RealLayoutTests
{
    [Fact]
    public void A_hugging_face_cache_snapshot_made_of_symlinks_loads_and_generates()
    {
        var repo = Path.Combine(TestPaths.NewTempDir("hfcache"), "models--headwise--testbed-2k");
        var blobs = Directory.CreateDirectory(Path.Combine(repo, "blobs")).FullName;
        var snapshot = Directory.CreateDirectory(Path.Combine(repo, "snapshots", "0123456789abcdef")).FullName;
        foreach (var (file, blob) in new[] { ("config.json", "3f1e"), ("model.safetensors", "9a7c"), ("tokenizer.json", "b2d4") })
        {
            File.Copy(HostileFiles.Testbed(file), Path.Combine(blobs, blob));
            File.CreateSymbolicLink(Path.Combine(snapshot, file), Path.Combine("..", "..", "blobs", blob));
        }
        var r = HostileCli.Run("generate", "--model", snapshot, "--prompt", "Once upon a time", "--max-tokens", "4", "--temperature", "0");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.StartsWith("Once upon a time", r.Stdout);
    }

    [Fact]
    public void Symlinked_gguf_and_llama2c_files_load()
    {
        var dir = TestPaths.NewTempDir("links");
        var gguf = Path.Combine(dir, "model.gguf");
        File.CreateSymbolicLink(gguf, TestPaths.Stories260KGguf);
        var bin = Path.Combine(dir, "stories.bin");
        File.CreateSymbolicLink(bin, TestPaths.Stories260KBin);
        File.CreateSymbolicLink(Path.Combine(dir, "tokenizer.bin"), TestPaths.Stories260KTokenizerBin);
        foreach (var model in new[] { gguf, bin })
        {
            var r = HostileCli.Run("info", "--model", model);
            Assert.True(r.ExitCode == 0, $"{model}: {r.Stderr}");
        }
    }

    [Fact]
    public void A_read_only_folder_loads()
    {
        var dir = HostileFiles.TestbedFolder(dir: Path.Combine(TestPaths.NewTempDir("readonly"), "model"));
        foreach (var f in Directory.GetFiles(dir)) File.SetUnixFileMode(f, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
                                  | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        // Root may write into a read-only folder, so as root the check runs as nobody, who truly cannot.
        var asNobody = Environment.UserName == "root" && CanRunAs("65534");
        var r = HostileCli.Run(["generate", "--model", dir, "--prompt", "Once", "--max-tokens", "2", "--temperature", "0"],
            env: new Dictionary<string, string> { ["HOME"] = "/tmp", ["DOTNET_CLI_HOME"] = "/tmp" }, runAs: asNobody ? "65534" : null);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.StartsWith("Once", r.Stdout);
    }

    [Fact]
    public void A_path_with_spaces_and_non_ascii_characters_loads()
    {
        var dir = Directory.CreateDirectory(Path.Combine(TestPaths.NewTempDir("names"), "mödèls ñ 模型 dir")).FullName;
        var gguf = Path.Combine(dir, "stories 260K ü.gguf");
        File.Copy(TestPaths.Stories260KGguf, gguf);
        var hf = HostileFiles.TestbedFolder(dir: Path.Combine(dir, "testbed é 2k"));
        foreach (var model in new[] { gguf, hf })
        {
            var r = HostileCli.Run("info", "--model", model);
            Assert.True(r.ExitCode == 0, $"{model}: {r.Stderr}");
        }
    }

    private static bool CanRunAs(string user)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("setpriv", ["--reuid=" + user, "--regid=" + user, "--clear-groups", "--", "true"])
                { RedirectStandardError = true, UseShellExecute = false })!;
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception) { return false; }
    }
}
