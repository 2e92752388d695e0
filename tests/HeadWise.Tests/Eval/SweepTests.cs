using HeadWise.Eval;
using HeadWise.KvCache;
using HeadWise.Models;
using HeadWise.Reports;

namespace HeadWise.Tests.Eval;

/// <summary>Acceptance 3: a sweep stopped halfway and restarted writes the same results.json as one that ran straight through.</summary>
public sealed class SweepTests
{
    private static readonly Lazy<LoadedModel> Stories = new(() => ModelLoader.Load(TestPaths.Stories260KGguf));

    [Fact]
    public void InterruptedSweepResumesToTheSameResults()
    {
        var plan = new SweepPlan("copy", ["full", "streaming"], ["0.5", "64"], new TaskOptions { Lengths = [41], Seed = 2 });
        string straight = TestPaths.NewTempDir(), resumed = TestPaths.NewTempDir();
        SweepRunner.Run(Stories.Value, plan, straight);

        using var cancel = new CancellationTokenSource();
        Assert.Throws<OperationCanceledException>(() =>
            SweepRunner.Run(Stories.Value, plan, resumed, (done, _, _) => { if (done == 2) cancel.Cancel(); }, cancel.Token));
        Assert.Equal(2, Directory.GetFiles(Path.Combine(resumed, "cells"), "*.json").Length);
        Assert.False(File.Exists(Path.Combine(resumed, "results.json")));
        var ran = new List<string>();
        SweepRunner.Run(Stories.Value, plan, resumed, (_, _, key) => ran.Add(key));

        Assert.Equal(File.ReadAllText(Path.Combine(straight, "results.json")), File.ReadAllText(Path.Combine(resumed, "results.json")));
        Assert.Equal(["full@1.0", "streaming@0.5", "streaming@64"], ran);
        var files = SweepReport.Write(SweepRunner.Run(Stories.Value, plan, resumed), resumed);
        Assert.All(files.Append("index.html"), f => Assert.True(new FileInfo(Path.Combine(resumed, f)).Length > 300));

        var other = plan with { Options = plan.Options with { Seed = 3 } };
        Assert.Contains("different settings", Assert.Throws<HeadWiseException>(() => SweepRunner.Run(Stories.Value, other, resumed)).Message);
    }

    [Fact]
    public void Per_policy_parameters_reach_that_policy_only()
    {
        // stories260K has 4 KV heads per layer; spatten heads=0.5 prunes 2 of them, halving what it keeps.
        var plain = new SweepPlan("copy", ["spatten", "streaming"], ["0.5"], new TaskOptions { Lengths = [41], Seed = 2 });
        var pruned = plain with { Parameters = new Dictionary<string, string> { ["spatten"] = "heads=0.5" } };
        var a = SweepRunner.Run(Stories.Value, plain, TestPaths.NewTempDir());
        var b = SweepRunner.Run(Stories.Value, pruned, TestPaths.NewTempDir());
        Assert.Equal(a.Single(r => r.Policy == "spatten").KvBytes / 2, b.Single(r => r.Policy == "spatten").KvBytes);
        Assert.Equal(a.Single(r => r.Policy == "streaming").KvBytes, b.Single(r => r.Policy == "streaming").KvBytes);
    }
}
