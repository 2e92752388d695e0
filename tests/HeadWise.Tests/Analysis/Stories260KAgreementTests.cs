using HeadWise.Analysis;
using HeadWise.Analysis.Scores;
using HeadWise.Heads;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Analysis;

/// <summary>sink, entropy and WAAD on stories260K against attention recomputed in plain double loops from the captured rotated q and k.</summary>
public sealed class Stories260KAgreementTests
{
    [Fact]
    public void SinkEntropyAndWaadAgreeWithAStraightforwardComputation()
    {
        using var m = ModelLoader.Load(TestPaths.Stories260KGguf);
        var probes = ProbeSet.FromText(ProbeSet.DefaultText, m.Tokenizer, 2, 40);
        using var ctx = new ProfileContext(m.Transformer, m.Tokenizer, probes);
        var sink = new SinkScore().Compute(ctx)[0];
        var entropy = new EntropyScore().Compute(ctx)[0];
        var waad = new LocalityScore(10).Compute(ctx)[0];
        var s = m.Spec;
        int T = 40, d = s.HeadDim;
        var eSink = HeadMap.Zeros(s.Layers, s.Heads); var eEnt = HeadMap.Zeros(s.Layers, s.Heads); var eWaad = HeadMap.Zeros(s.Layers, s.Heads);
        foreach (var doc in probes)
        {
            using var ids = torch.tensor(doc.Select(x => (long)x).ToArray(), [1, T]);
            var caps = Enumerable.Range(0, s.Layers).SelectMany(l => new[] { new CaptureSpec(HookNames.ForLayer(l).RotQ), new CaptureSpec(HookNames.ForLayer(l).RotK) });
            var (logits, cache) = m.Transformer.RunWithCache(ids, caps);
            using (logits) using (cache)
                for (int l = 0; l < s.Layers; l++)
                {
                    var q = cache[HookNames.ForLayer(l).RotQ].to_type(ScalarType.Float64).data<double>().ToArray(); // [1,T,H,d]
                    var k = cache[HookNames.ForLayer(l).RotK].to_type(ScalarType.Float64).data<double>().ToArray(); // [1,T,KV,d]
                    for (int h = 0; h < s.Heads; h++)
                    {
                        int kh = h / s.GroupSize;
                        for (int t = 0; t < T; t++)
                        {
                            var sc = new double[t + 1];
                            for (int j = 0; j <= t; j++)
                            {
                                double dot = 0;
                                for (int i = 0; i < d; i++) dot += q[(t * s.Heads + h) * d + i] * k[(j * s.KvHeads + kh) * d + i];
                                sc[j] = dot / Math.Sqrt(d);
                            }
                            double max = sc.Max(), z = sc.Sum(v => Math.Exp(v - max));
                            var a = sc.Select(v => Math.Exp(v - max) / z).ToArray();
                            double w = 1.0 / (T * probes.Count);
                            eSink[l][h] += a[0] * w;
                            eEnt[l][h] -= a.Where(v => v > 0).Sum(v => v * Math.Log(v)) * w;
                            eWaad[l][h] += Enumerable.Range(0, t + 1).Sum(j => a[j] * Math.Min(t - j, 10)) * w;
                        }
                    }
                }
        }
        for (int l = 0; l < s.Layers; l++)
            for (int h = 0; h < s.Heads; h++)
            {
                Assert.Equal(eSink[l][h], sink[l, h], 4);
                Assert.Equal(eEnt[l][h], entropy[l, h], 4);
                Assert.Equal(eWaad[l][h], waad[l, h], 3);
            }
    }
}
