using System.Text.Json;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.Training;

/// <summary>
/// In-context linear regression (He, Pan, Chen, Yang, "In-Context Linear Regression Demystified", ICML 2025): prompts of
/// n pairs (x, y = beta·x + noise) from a fresh random beta each, then a query (x_q, 0); one layer of multi-head softmax
/// attention over the pairs reads out the last entry of its output at the query as the prediction of y_q. Continuous
/// inputs: each token is the vector (x, y), no vocabulary. Keys: snake_case, unknown ones refused.
/// </summary>
public sealed record RegressionConfig
{
    public string Name { get; init; } = "icl-regression";
    public int Seed { get; init; } = 1;
    /// <summary>d, the dimension of x (x ~ N(0, I_d), beta ~ N(0, I_d)).</summary>
    public int InputDim { get; init; } = 2;
    /// <summary>Standard deviation of the noise added to each y.</summary>
    public double Noise { get; init; } = 0.5;
    /// <summary>In-context examples per training prompt (and the evaluation point of the claim).</summary>
    public int Examples { get; init; } = 20;
    /// <summary>Heads of the multi-head model; the single-head model has one head of heads x head_dim (the same parameters).</summary>
    public int Heads { get; init; } = 4;
    public int HeadDim { get; init; } = 4;
    public int Steps { get; init; } = 3000;
    public int Batch { get; init; } = 256;
    public double LearningRate { get; init; } = 0.003;
    public int EvalPrompts { get; init; } = 20000;
    /// <summary>Numbers of in-context examples evaluated (trained at <see cref="Examples"/> only).</summary>
    public int[] EvalExamples { get; init; } = [5, 10, 20, 40];

    /// <summary>The training configs' JSON rules (snake_case, comments, unknown keys refused).</summary>
    public static JsonSerializerOptions Json => TrainConfig.Json;

    public static RegressionConfig Load(string path)
    {
        if (!File.Exists(path)) throw new HeadWiseException($"{path}: config file not found");
        RegressionConfig? c;
        try { c = JsonSerializer.Deserialize<RegressionConfig>(File.ReadAllText(path), Json); }
        catch (JsonException e) { throw new HeadWiseException($"{path}: {e.Message}"); }
        if (c is null) throw new HeadWiseException($"{path}: the config is empty (null)");
        c.Validate(path);
        return c;
    }

    public void Validate(string source)
    {
        void Require(bool ok, string what) { if (!ok) throw new HeadWiseException($"{source}: {what}"); }
        Require(InputDim is >= 1 and <= 64, $"input_dim = {InputDim}: must be in 1..64");
        Require(double.IsFinite(Noise) && Noise >= 0 && Noise <= 100, $"noise = {Noise}: must be in [0, 100]");
        Require(Examples is >= 1 and <= 1024, $"examples = {Examples}: must be in 1..1024");
        Require(Heads is >= 1 and <= 64 && HeadDim is >= 1 and <= 256, $"heads = {Heads}, head_dim = {HeadDim}: must be in 1..64 and 1..256");
        Require(Steps is >= 1 and <= 1_000_000 && Batch is >= 1 and <= 65536, $"steps = {Steps}, batch = {Batch}: must be positive (at most 1e6 and 65536)");
        Require(LearningRate > 0 && LearningRate <= 1, $"learning_rate = {LearningRate}: must be in (0, 1]");
        Require(EvalPrompts is >= 100 and <= 1_000_000, $"eval_prompts = {EvalPrompts}: must be in 100..1e6");
        Require(EvalExamples.Length > 0 && EvalExamples.All(n => n is >= 1 and <= 4096), "eval_examples: 1 to 4096 examples each, at least one entry");
        Require(EvalExamples.Contains(Examples), $"eval_examples must include examples = {Examples} (the claim's point)");
    }
}

/// <summary>One layer of softmax attention from the query token (x_q, 0) over the example tokens (x, y); prediction = last output entry.</summary>
internal sealed class RegressionAttention : IDisposable
{
    public RegressionAttention(int inputDim, int heads, int headDim, Generator generator)
    {
        InputDim = inputDim; Heads = heads; HeadDim = headDim;
        long width = inputDim + 1, inner = (long)heads * headDim;
        TorchSharp.Modules.Parameter P(long rows, long cols) =>
            new(torch.randn([rows, cols], generator: generator).mul_(torch.tensor(1.0 / Math.Sqrt(cols))), requires_grad: true);
        Wq = P(inner, width); Wk = P(inner, width); Wv = P(inner, width); Wo = P(width, inner);
    }

    public int InputDim { get; }
    public int Heads { get; }
    public int HeadDim { get; }
    public TorchSharp.Modules.Parameter Wq { get; }
    public TorchSharp.Modules.Parameter Wk { get; }
    public TorchSharp.Modules.Parameter Wv { get; }
    public TorchSharp.Modules.Parameter Wo { get; }
    public IEnumerable<TorchSharp.Modules.Parameter> Parameters => [Wq, Wk, Wv, Wo];
    public long ParameterCount => Parameters.Sum(p => p.numel());

    /// <summary>Predictions [B] from examples z [B, n, d+1] and queries [B, d+1] (y entry 0).</summary>
    public Tensor Predict(Tensor z, Tensor query)
    {
        long b = z.shape[0], n = z.shape[1];
        var q = F.linear(query, Wq).view(b, Heads, 1, HeadDim);
        var k = F.linear(z, Wk).view(b, n, Heads, HeadDim).transpose(1, 2);
        var v = F.linear(z, Wv).view(b, n, Heads, HeadDim).transpose(1, 2);
        var heads = F.scaled_dot_product_attention(q, k, v).reshape(b, Heads * HeadDim);   // [B, H*r]
        return F.linear(heads, Wo).select(1, InputDim);
    }

    /// <summary>Per head: the key-query matrix W_Q^h^T W_K^h and the output-value matrix W_O^h W_V^h, each [d+1, d+1].</summary>
    public (double[,] Kq, double[,] Ov)[] HeadMatrices()
    {
        using var _ = torch.no_grad();
        return Enumerable.Range(0, Heads).Select(h =>
        {
            var rows = torch.arange(h * HeadDim, (h + 1) * HeadDim, dtype: ScalarType.Int64);
            var kq = Wq.index_select(0, rows).t().matmul(Wk.index_select(0, rows)).mul(torch.tensor(1.0 / Math.Sqrt(HeadDim)));
            var ov = Wo.index_select(1, rows).matmul(Wv.index_select(0, rows));
            return (ToArray(kq), ToArray(ov));
        }).ToArray();
    }

    private static double[,] ToArray(Tensor m)
    {
        var a = m.to(ScalarType.Float64).contiguous().data<double>().ToArray();
        int r = (int)m.shape[0], c = (int)m.shape[1];
        var result = new double[r, c];
        for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) result[i, j] = a[i * c + j];
        return result;
    }

    public void Dispose() { foreach (var p in Parameters) p.Dispose(); }
}
