using HeadWise.Eval;
using HeadWise.Tests.Cli;

namespace HeadWise.Tests.Prefill;

/// <summary>`bench --prefill`: results record the method and the share of blocks computed; bad input is one error line (issue 19, acceptance 5).</summary>
public class PrefillCliTests
{
    private static string Testbed => Path.Combine(Packaging.PackedPackages.RepoRoot, "models", "testbed-2k", "model.gguf");
    private static readonly string[] Bench = ["bench", "--model", Testbed, "--task", "passkey", "--lengths", "600", "--depths", "0.5"];

    [Fact]
    public void Bench_records_the_sparse_prefill_and_the_share_of_blocks_it_computed()
    {
        var dir = TestPaths.NewTempDir();
        var dense = CliProcess.Run([.. Bench, "--json", Path.Combine(dir, "dense.json")]);
        var all = CliProcess.Run([.. Bench, "--prefill", "dhsa", "--prefill-params", "chunk=32,keep=1", "--json", Path.Combine(dir, "all.json")]);
        var sparse = CliProcess.Run([.. Bench, "--prefill", "proxyattn", "--prefill-params", "block=64,gamma=0.5", "--json", Path.Combine(dir, "sparse.json")]);
        foreach (var r in new[] { dense, all, sparse }) Assert.True(r.ExitCode == 0, r.Stderr);
        var d = BenchResult.FromJson(File.ReadAllText(Path.Combine(dir, "dense.json")));
        var a = BenchResult.FromJson(File.ReadAllText(Path.Combine(dir, "all.json")));
        var s = BenchResult.FromJson(File.ReadAllText(Path.Combine(dir, "sparse.json")));
        Assert.Null(d.Prefill);
        Assert.Equal("dhsa chunk=32,keep=1,unrotate=1", a.Prefill);
        Assert.Equal(1.0, a.PrefillBlockShare);
        Assert.Equal(d.Answers!.Select(x => x.Output), a.Answers!.Select(x => x.Output)); // keeping every block is dense
        Assert.StartsWith("proxyattn block=64,pool=4,probe=16,gamma=0.5", s.Prefill);
        Assert.InRange(s.PrefillBlockShare!.Value, 0.01, 0.99);
        Assert.Contains("of the causal attention blocks computed", sparse.Stdout);
    }

    [Theory]
    [InlineData("--prefill", "minference")]
    [InlineData("--prefill", "proxyattn", "--prefill-params", "gamma=0")]
    [InlineData("--prefill", "dhsa", "--prefill-params", "keep=2")]
    [InlineData("--prefill", "dhsa", "--policy", "snapkv")]
    [InlineData("--prefill-params", "keep=0.5")]
    public void Bad_prefill_options_get_one_error_line(params string[] extra)
    {
        var r = CliProcess.Run([.. Bench, .. extra]);
        Assert.True(r.ExitCode == 1, $"{string.Join(' ', extra)}: exit {r.ExitCode}\n{r.Stderr}");
        Assert.StartsWith("error: ", Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }
}
