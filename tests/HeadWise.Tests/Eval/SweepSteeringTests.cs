using HeadWise.Eval;
using HeadWise.KvCache;
using HeadWise.Models;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (SweepRunner with --steer): a sweep given a steering file runs every cell steered (the perplexity changes),
/// records what was applied as the steering file's documented line ("METHOD: WHAT (FILE)"), and sweep.json records the
/// file's name, so resuming with another steering file is refused.
/// </summary>
public class SweepSteeringTests
{
    private static readonly Lazy<LoadedModel> Stories = new(() => ModelLoader.Load(TestPaths.Stories260KGguf));

    [Fact]
    public void A_steered_sweep_steers_records_and_refuses_another_steering()
    {
        var m = Stories.Value;
        var steer = Path.Combine(TestPaths.NewTempDir(), "steer.json");
        File.WriteAllText(steer, $$$"""
            {"format": "headwise-steering", "version": 1, "method": "zerotuning",
             "model": {"name": "stories260K", "layers": {{{m.Spec.Layers}}}, "heads": {{{m.Spec.Heads}}}, "head_dim": {{{m.Spec.HeadDim}}}},
             "steering": {"heads": ["0.0", "0.1", "1.0", "1.1"], "scale": 0.2}}
            """);
        var plain = new SweepPlan("perplexity", ["full"], ["0.5"], new TaskOptions { Lengths = [41], Seed = 2, HaystackPath = TestPaths.MobyDick },
            Compress: CompressMode.Chunked);
        var unsteered = SweepRunner.Run(m, plain, TestPaths.NewTempDir()).Single();
        var dir = TestPaths.NewTempDir();
        var steered = SweepRunner.Run(m, plain with { SteerPath = steer }, dir).Single();

        Assert.Null(unsteered.Steering);
        Assert.Equal("zerotuning: heads 0.0,0.1,1.0,1.1 first-token attention x0.2 (steer.json)", steered.Steering);
        Assert.NotEqual(unsteered.PerplexityNats!.Value, steered.PerplexityNats!.Value, 6);

        var other = Path.Combine(TestPaths.NewTempDir(), "other.json");
        File.Copy(steer, other);
        Assert.Contains("different settings", Assert.Throws<HeadWiseException>(() => SweepRunner.Run(m, plain with { SteerPath = other }, dir)).Message);
    }
}
