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
}
