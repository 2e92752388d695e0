using HeadWise.Heads;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Training;

/// <summary>
/// Attention sinks at one point of training. <see cref="Score"/>[layer][head] is the head's attention on the first token
/// averaged over all queries of a window and then over windows; <see cref="HeadRatio"/> is the share of windows in which
/// that score exceeds ε; <see cref="Ratio"/> is the paper's sink ratio, the share of (window, layer, head) triples above ε,
/// and <see cref="RatioFromLayer1"/> the same over layers 1 and up (layer 0 has no residual stream to build a sink from).
/// </summary>
public sealed record SinkMeasure(int Step, int Window, int Windows, double Epsilon, double Ratio, double RatioFromLayer1,
    double[][] Score, double[][] HeadRatio)
{
    /// <summary>Heads of layers 1 and up whose mean first-token score reaches ε.</summary>
    public int SinkHeadsFromLayer1 => Score.Skip(1).Sum(l => l.Count(v => v >= Epsilon));
    public int HeadsFromLayer1 => Score.Skip(1).Sum(l => l.Length);
}

/// <summary>
/// The sink metric of Gu et al. ("When Attention Sink Emerges in Language Models", ICLR 2025): the importance score of
/// token 0 for a head is its attention on token 0 averaged over every query of the sequence (the first query included),
/// a head counts as a sink when the score exceeds ε = 0.3, and the ratio is taken over windows, layers and heads. The
/// paper measures 64-token windows of natural text; here every window starts with BOS, as every training sample does.
/// </summary>
public static class SinkMeter
{
    public const double Epsilon = 0.3;
    public const int PaperWindow = 64;

    /// <summary>Measures on <paramref name="windows"/> windows of BOS + text spread evenly over <paramref name="text"/>.</summary>
    public static SinkMeasure Measure(Transformer model, int[] text, int bos, int step, int windows = 16, int window = PaperWindow)
    {
        if (text.Length < window) throw new HeadWiseException($"sink meter: {text.Length} tokens of text are fewer than one window of {window}");
        var spec = model.Spec;
        var ids = new long[windows * window];
        for (int w = 0; w < windows; w++)
        {
            int start = (int)((long)w * (text.Length - window) / Math.Max(1, windows - 1));
            ids[w * window] = bos;
            for (int i = 1; i < window; i++) ids[w * window + i] = text[start + i - 1];
        }
        var scores = new double[spec.Layers][];   // [layer] → [window * head]
        var hooks = new HookSet();
        for (int l = 0; l < spec.Layers; l++)
        {
            int layer = l;
            hooks.Add(HookNames.ForLayer(l).Pattern, p =>
            {
                // p [W, H, T, T]: attention of every query on key 0, averaged over queries.
                scores[layer] = p.select(3, 0).mean([2]).to_type(ScalarType.Float64).data<double>().ToArray();
                return p;
            });
        }
        using (torch.NewDisposeScope())
        using (torch.no_grad())
            model.Forward(torch.tensor(ids, [windows, window]), hooks: hooks);

        int heads = spec.Heads;
        double Mean(int l, int h) => Enumerable.Range(0, windows).Average(w => scores[l][w * heads + h]);
        double Share(int l, int h) => Enumerable.Range(0, windows).Count(w => scores[l][w * heads + h] > Epsilon) / (double)windows;
        var score = Enumerable.Range(0, spec.Layers).Select(l => Enumerable.Range(0, heads).Select(h => Mean(l, h)).ToArray()).ToArray();
        var share = Enumerable.Range(0, spec.Layers).Select(l => Enumerable.Range(0, heads).Select(h => Share(l, h)).ToArray()).ToArray();
        double from1 = spec.Layers > 1 ? share.Skip(1).SelectMany(r => r).Average() : 0;
        return new SinkMeasure(step, window, windows, Epsilon, share.SelectMany(r => r).Average(), from1, score, share);
    }
}
