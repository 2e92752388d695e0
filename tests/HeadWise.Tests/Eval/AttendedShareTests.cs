using HeadWise.Eval;
using HeadWise.KvCache;
using HeadWise.Models;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (Stryker's uncovered mutants in the bench aggregate): the attended share a bench reports for a selective
/// cache is all samples' attended keys over all their visible keys, counted here from DELTA's rule.
/// </summary>
public class AttendedShareTests
{
    [Fact]
    public void Delta_attends_the_budget_or_everything_visible_in_each_sparse_layer_summed_over_samples()
    {
        var m = ModelLoader.Load(TestPaths.Stories260KGguf);
        using var _ = m;
        Assert.Equal(5, m.Transformer.Spec.Layers);   // delta's defaults: layers 0-1 full, 2 a Δ-layer, 3-4 sparse
        var o = new TaskOptions { Lengths = [41, 61], Samples = 1, Seed = 2 };
        var r = BenchRunner.Run(m, TaskRegistry.Create("copy"), o, new PolicyCacheFactory("delta", KvBudget.Parse("16"), CompressMode.Context));
        // Copy prompts of odd length are exactly that long (BOS + twice (length - 1) / 2). Each position is one query; it sees v = position + 1 keys and a sparse layer attends min(v, 16) of them.
        long attended = 0, visible = 0;
        foreach (int length in o.Lengths)
            for (int v = 1; v <= length; v++) { attended += 2 * Math.Min(v, 16); visible += 2 * v; }
        Assert.Equal((double)attended / visible, r.AttendedShare!.Value, 12);   // 2784 / 5504, not either sample's own share
    }
}
