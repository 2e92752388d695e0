using HeadWise.Analysis;
using HeadWise.Analysis.Scores;
using HeadWise.Heads;
using HeadWise.Models;
using HeadWise.Reports;
using HeadWise.Tests.Heads;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Analysis;

public sealed class AtlasAndDuoTests
{
    private static ProfileContext Tiny(int seed)
    {
        var model = TinyModels.Build("llama");
        var probes = Enumerable.Range(0, 3).Select(d => TinyModels.Tokens(48, seed: d).data<long>().Select(x => (int)x).ToArray()).ToList();
        return new ProfileContext(model, null, probes, seed);
    }

    [Fact]
    public void DuoGateLossCurvePlotsAndItsTsvRoundTripsThroughAnAtlas()
    {
        var score = new DuoGateScore(new DuoGateTraining { Steps = 6, Sinks = 2, Recent = 8, Passkeys = 1, PasskeyWords = 1, MaxLength = 24, LengthIntervals = 2 });
        using var a = Tiny(3);
        var (_, la) = score.Optimise(a);
        var dir = TestPaths.NewTempDir();
        AtlasReport.LossCurve(la, Path.Combine(dir, "loss.png"));
        Assert.True(new FileInfo(Path.Combine(dir, "loss.png")).Length > 1000);
        var atlas = new HeadAtlas { Model = "tiny", Layers = 2, Heads = 4, KvHeads = 2 };
        atlas.Add(score.Compute(a)[0]);
        var tsv = Path.Combine(dir, "pattern", "full_attention_heads.tsv"); // a folder not made yet
        DuoPattern.FromAtlas(atlas).Write(tsv);
        Assert.Equal(2, File.ReadAllLines(tsv).Length);
        Assert.Equal(2, File.ReadAllLines(tsv)[0].Split('\t').Length);
        var back = new HeadAtlas { Model = "tiny", Layers = 2, Heads = 4, KvHeads = 2 };
        DuoPattern.Read(tsv).IntoAtlas(back, tsv);
        Assert.Equal(atlas.Scores["duo-gate"].SelectMany(r => r), back.Scores["duo-gate"].SelectMany(r => r));
        Assert.Equal((2, 8), DuoPattern.StreamingParams(back.Params["duo-gate"] as System.Text.Json.Nodes.JsonObject));
    }

    [Fact]
    public void BadTsvAndBadAtlasAreClearErrors()
    {
        var dir = TestPaths.NewTempDir();
        var tsv = Path.Combine(dir, "p.tsv");
        File.WriteAllText(tsv, "1\t0\n1\tx\n");
        Assert.Contains("line 2, column 2", Assert.Throws<HeadWiseException>(() => DuoPattern.Read(tsv)).Message);
        File.WriteAllText(tsv, "1\t0\n1\n");
        Assert.Contains("line 2 has 1 values", Assert.Throws<HeadWiseException>(() => DuoPattern.Read(tsv)).Message);
        var json = Path.Combine(dir, "atlas.json");
        File.WriteAllText(json, """{"model":"m","layers":2,"heads":2,"kv_heads":1,"scores":{"sink":[[1,2]]}}""");
        Assert.Contains("score 'sink' must be 2 rows of 2 numbers", Assert.Throws<HeadWiseException>(() => HeadAtlas.Load(json)).Message);
    }

    [Fact]
    public void AtlasJsonRoundTripsInTheAgreedLayout()
    {
        var atlas = new HeadAtlas { Model = "m", Layers = 2, Heads = 3, KvHeads = 1 };
        atlas.Add(new HeadMap("sink", [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], new System.Text.Json.Nodes.JsonObject { ["threshold"] = 0.3 }));
        atlas.Skipped["retrieval"] = "encoder";
        var path = Path.Combine(TestPaths.NewTempDir(), "atlas.json");
        atlas.Save(path);
        var raw = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
        Assert.Equal(0.5, raw["scores"]!["sink"]![1]![1]!.GetValue<double>());
        Assert.Equal(1, raw["kv_heads"]!.GetValue<int>());
        var back = HeadAtlas.Load(path);
        Assert.Equal(atlas.Scores["sink"].SelectMany(r => r), back.Scores["sink"].SelectMany(r => r));
        Assert.Equal("encoder", back.Skipped["retrieval"]!.GetValue<string>());
    }

    [Fact]
    public void SpearmanMatchesHandComputedValues()
    {
        Assert.Equal(1.0, RankAgreement.Spearman([1, 2, 3, 4], [10, 20, 30, 40]), 9);
        Assert.Equal(-1.0, RankAgreement.Spearman([1, 2, 3, 4], [4, 3, 2, 1]), 9);
        // d = (0, 0, 1, -1): rho = 1 - 6*2/(4*15) = 0.8
        Assert.Equal(0.8, RankAgreement.Spearman([1, 2, 3, 4], [1, 2, 4, 3]), 9);
    }
}
