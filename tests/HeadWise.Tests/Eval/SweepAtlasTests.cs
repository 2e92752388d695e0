using HeadWise.Analysis;
using HeadWise.Eval;
using HeadWise.KvCache;
using HeadWise.Models;

namespace HeadWise.Tests.Eval;

/// <summary>Issue 23 (SweepRunner.Cells): a sweep's --atlas reaches the policies that read head scores (duo reads duo-gate).</summary>
public class SweepAtlasTests
{
    private static readonly ModelSpec Spec = new()
    {
        Architecture = "llama", Layers = 1, Dim = 32, Heads = 4, KvHeads = 2, HeadDim = 8, FfnDim = 8, VocabSize = 32, ContextLength = 64,
    };

    [Fact]
    public void Policies_that_read_scores_get_the_sweeps_atlas()
    {
        var tsv = Path.Combine(TestPaths.NewTempDir(), "full_attention_heads.tsv");
        new DuoPattern([[0.9, 0.1]], Sinks: 2, Recent: 4).Write(tsv);
        var plan = new SweepPlan("copy", ["duo"], ["0.5"], new TaskOptions { Lengths = [40] });
        var withAtlas = (PolicyCacheFactory)SweepRunner.Cells(plan with { AtlasPath = tsv }).Single();
        withAtlas.Check(Spec);
        var without = (PolicyCacheFactory)SweepRunner.Cells(plan).Single();
        Assert.Contains("give an atlas", Assert.Throws<HeadWiseException>(() => without.Check(Spec)).Message);
    }
}
