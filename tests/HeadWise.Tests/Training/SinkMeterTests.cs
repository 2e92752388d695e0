using HeadWise.Heads;
using HeadWise.Tests.Heads;
using HeadWise.Training;
using TorchSharp;

namespace HeadWise.Tests.Training;

/// <summary>The sink metric of "When Attention Sink Emerges": constructed cases and a plain recomputation from captured patterns.</summary>
public class SinkMeterTests
{
    private static int[] Text(int n) { var rng = new Random(3); return Enumerable.Range(0, n).Select(_ => rng.Next(2, 64)).ToArray(); }

    private static double Harmonic(int n) => Enumerable.Range(1, n).Sum(i => 1.0 / i);

    [Fact]
    public void Uniform_attention_scores_the_harmonic_mean_and_counts_as_a_sink_only_in_short_windows()
    {
        // With W_Q = 0 every score is 0, so query i spreads 1/(i+1) over its keys: the first token gets H(T)/T on average.
        using var model = TinyModels.Build("llama");
        foreach (var layer in model.Weights.Layers) layer.Wq.zero_();
        var text = Text(400);

        var wide = SinkMeter.Measure(model, text, bos: 1, step: 0, windows: 4, window: 64);
        Assert.All(wide.Score.SelectMany(r => r), v => Assert.Equal(Harmonic(64) / 64, v, 5));   // 0.074 < ε
        Assert.Equal(0, wide.Ratio);
        Assert.Equal(0, wide.SinkHeadsFromLayer1);

        var narrow = SinkMeter.Measure(model, text, bos: 1, step: 0, windows: 4, window: 3);
        Assert.All(narrow.Score.SelectMany(r => r), v => Assert.Equal(Harmonic(3) / 3, v, 5));    // 0.611 > ε
        Assert.Equal(1, narrow.Ratio);
        Assert.Equal(1, narrow.RatioFromLayer1);
        Assert.Equal(4, narrow.SinkHeadsFromLayer1);
        Assert.Equal(4, narrow.HeadsFromLayer1);
    }

    [Fact]
    public void Scores_and_ratios_equal_a_plain_loop_over_the_captured_patterns()
    {
        using var model = TinyModels.Build("llama", seed: 19);
        var text = Text(300);
        const int windows = 3, window = 24;
        var m = SinkMeter.Measure(model, text, bos: 1, step: 5, windows, window);
        Assert.Equal(5, m.Step);

        var alpha = new double[2, 4, windows];
        for (int w = 0; w < windows; w++)
        {
            int start = w * (text.Length - window) / (windows - 1);
            var ids = new long[window];
            ids[0] = 1;
            for (int i = 1; i < window; i++) ids[i] = text[start + i - 1];
            var (logits, cache) = model.RunWithCache(torch.tensor(ids, [1, window]), [HookNames.ForLayer(0).Pattern, HookNames.ForLayer(1).Pattern]);
            using (logits) using (cache)
                for (int l = 0; l < 2; l++)
                {
                    var p = cache[HookNames.ForLayer(l).Pattern][0].data<float>().ToArray();   // [H, T, T]
                    for (int h = 0; h < 4; h++)
                    {
                        double sum = 0;
                        for (int q = 0; q < window; q++) sum += p[(h * window + q) * window];
                        alpha[l, h, w] = sum / window;
                    }
                }
        }
        int above = 0, aboveFrom1 = 0;
        for (int l = 0; l < 2; l++)
            for (int h = 0; h < 4; h++)
            {
                Assert.Equal(Enumerable.Range(0, windows).Average(w => alpha[l, h, w]), m.Score[l][h], 5);
                int count = Enumerable.Range(0, windows).Count(w => alpha[l, h, w] > SinkMeter.Epsilon);
                Assert.Equal(count / (double)windows, m.HeadRatio[l][h], 9);
                above += count;
                if (l >= 1) aboveFrom1 += count;
            }
        Assert.Equal(above / (2.0 * 4 * windows), m.Ratio, 9);
        Assert.Equal(aboveFrom1 / (4.0 * windows), m.RatioFromLayer1, 9);
        Assert.Contains(m.Score.SelectMany(r => r), v => v > 0.1);   // a real spread of scores, not all alike
    }
}
