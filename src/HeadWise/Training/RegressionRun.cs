using System.Text;
using System.Text.Json;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Training;

/// <summary>Mean squared error on held-out prompts at one number of in-context examples, for the models and the baselines.</summary>
public sealed record RegressionScore(int Examples, double MultiHead, double SingleHead, double LeastSquares, double GradientStep, double Ridge);

/// <summary>
/// One head of the trained multi-head model, read as the paper reads it: omega = mean diagonal of the key-query matrix's
/// x block, with how diagonal and homogeneous that block is; mu = the output-value entry that carries y to the
/// prediction, with how much of the prediction's row the other entries hold.
/// </summary>
public sealed record HeadReadout(int Head, double Omega, double DiagonalShare, double DiagonalSpread, double Mu, double LastEntryShare);

public sealed record RegressionResult(string Name, int Seed, int InputDim, double Noise, int Examples, int Heads, int HeadDim, long Parameters,
    int Steps, double MultiHeadFinalLoss, double SingleHeadFinalLoss, double GradientStepSize, IReadOnlyList<RegressionScore> Scores,
    IReadOnlyList<HeadReadout> Readout, double MuSum, double MuAbsSum, double Seconds);

/// <summary>
/// `headwise icl-regression`: trains the multi-head model and a single-head model with the same parameters on the same
/// prompts, then scores both on held-out functions against least squares, one step of gradient descent from zero (the
/// step fitted on training prompts, as the paper compares) and the Bayes-optimal ridge, at several numbers of examples.
/// Writes results.json and README.md.
/// </summary>
public static class RegressionRun
{
    public static RegressionResult Run(RegressionConfig c, string outDir, Action<string>? log = null)
    {
        log ??= _ => { };
        Runtime.Torch.EnsureStarted();
        Directory.CreateDirectory(outDir);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        using var multi = new RegressionAttention(c.InputDim, c.Heads, c.HeadDim, new Generator().manual_seed(c.Seed));
        using var single = new RegressionAttention(c.InputDim, 1, c.Heads * c.HeadDim, new Generator().manual_seed(c.Seed));
        double multiLoss = Train(multi, c, "multi-head", log), singleLoss = Train(single, c, "single-head", log);
        double eta = FitGradientStep(c);
        var scores = c.EvalExamples.Order().Select(n => Score(multi, single, c, n, eta)).ToList();
        foreach (var s in scores)
            log($"{s.Examples} examples: multi-head {s.MultiHead:0.0000}, single-head {s.SingleHead:0.0000}, least squares {s.LeastSquares:0.0000}, one GD step {s.GradientStep:0.0000}, ridge {s.Ridge:0.0000}");
        var readout = Readout(multi);
        var result = new RegressionResult(c.Name, c.Seed, c.InputDim, c.Noise, c.Examples, c.Heads, c.HeadDim, multi.ParameterCount, c.Steps,
            multiLoss, singleLoss, eta, scores, readout, readout.Sum(r => r.Mu), readout.Sum(r => Math.Abs(r.Mu)), sw.Elapsed.TotalSeconds);
        File.WriteAllText(Path.Combine(outDir, "results.json"), JsonSerializer.Serialize(result, RegressionConfig.Json));
        File.WriteAllText(Path.Combine(outDir, "README.md"), Card(c, result));
        return result;
    }

    /// <summary>A batch of prompts: examples z [B, n, d+1], queries [B, d+1] (y entry 0), their targets [B], and beta [B, d].</summary>
    internal static (Tensor Z, Tensor Query, Tensor Target, Tensor X, Tensor Y, Tensor Xq) Prompts(int batch, int n, RegressionConfig c, Generator g)
    {
        var beta = torch.randn([batch, c.InputDim, 1], generator: g, dtype: ScalarType.Float64);
        var x = torch.randn([batch, n + 1, c.InputDim], generator: g, dtype: ScalarType.Float64);
        var y = x.matmul(beta).squeeze(-1).add(torch.randn([batch, n + 1], generator: g, dtype: ScalarType.Float64).mul(torch.tensor(c.Noise)));
        var xs = x.narrow(1, 0, n); var ys = y.narrow(1, 0, n);
        var xq = x.select(1, n); var yq = y.select(1, n);
        var z = torch.cat([xs, ys.unsqueeze(-1)], -1).to(ScalarType.Float32);
        var query = torch.cat([xq, torch.zeros([batch, 1], dtype: ScalarType.Float64)], -1).to(ScalarType.Float32);
        return (z, query, yq, xs, ys, xq);
    }

    private static double Train(RegressionAttention model, RegressionConfig c, string what, Action<string> log)
    {
        var g = new Generator().manual_seed(c.Seed + 1);   // the same prompts for both models
        using var opt = torch.optim.Adam(model.Parameters, c.LearningRate);
        double recent = 0;
        for (int step = 0; step < c.Steps; step++)
        {
            using var scope = torch.NewDisposeScope();
            var (z, q, target, _, _, _) = Prompts(c.Batch, c.Examples, c, g);
            opt.zero_grad();
            var loss = model.Predict(z, q).sub(target.to(ScalarType.Float32)).pow(HeldScalars.Two).mean();
            loss.backward();
            opt.step();
            double l = loss.item<float>();
            recent = step < c.Steps - 100 ? l : recent + l / Math.Min(100, c.Steps);
            if ((step + 1) % 500 == 0) log($"{what} step {step + 1}: loss {l:0.0000}");
        }
        return c.Steps >= 100 ? recent : recent;
    }

    /// <summary>The step eta of one gradient-descent step from beta = 0 on the squared loss, fitted by least squares on training prompts.</summary>
    private static double FitGradientStep(RegressionConfig c)
    {
        using var scope = torch.NewDisposeScope();
        var (_, _, target, x, y, xq) = Prompts(c.EvalPrompts, c.Examples, c, new Generator().manual_seed(c.Seed + 2));
        var step = GradientDirection(x, y, xq);
        return step.mul(target).sum().item<double>() / step.pow(HeldScalars.Two).sum().item<double>();
    }

    /// <summary>x_q · (1/n) sum_i y_i x_i: the prediction of one GD step from zero with step 1.</summary>
    private static Tensor GradientDirection(Tensor x, Tensor y, Tensor xq) =>
        x.mul(y.unsqueeze(-1)).mean([1]).mul(xq).sum([-1]);

    private static RegressionScore Score(RegressionAttention multi, RegressionAttention single, RegressionConfig c, int n, double eta)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var (z, q, target, x, y, xq) = Prompts(c.EvalPrompts, n, c, new Generator().manual_seed(c.Seed + 1000 + n));   // held-out functions
        double Mse(Tensor prediction) => prediction.to(ScalarType.Float64).sub(target).pow(HeldScalars.Two).mean().item<double>();
        // Least squares (minimum-norm when n < d) and the posterior mean under beta ~ N(0, I), noise sigma (ridge, lambda = sigma^2).
        var xt = x.transpose(1, 2);
        var ls = torch.linalg.pinv(x).matmul(y.unsqueeze(-1)).squeeze(-1);
        var eye = torch.eye(c.InputDim, dtype: ScalarType.Float64).unsqueeze(0);
        var ridge = torch.linalg.solve(xt.matmul(x).add(eye.mul(torch.tensor(c.Noise * c.Noise))), xt.matmul(y.unsqueeze(-1))).squeeze(-1);
        return new RegressionScore(n, Mse(multi.Predict(z, q)), Mse(single.Predict(z, q)), Mse(ls.mul(xq).sum([-1])),
            Mse(GradientDirection(x, y, xq).mul(torch.tensor(eta))), Mse(ridge.mul(xq).sum([-1])));
    }

    private static List<HeadReadout> Readout(RegressionAttention model)
    {
        int d = model.InputDim;
        return model.HeadMatrices().Select((m, h) =>
        {
            // Key-query x block: diagonal mean, the share of its mass on the diagonal, and how equal the diagonal entries are.
            var diag = Enumerable.Range(0, d).Select(i => m.Kq[i, i]).ToArray();
            double all = 0;
            for (int i = 0; i < d; i++) for (int j = 0; j < d; j++) all += Math.Abs(m.Kq[i, j]);
            double omega = diag.Average();
            double spread = d > 1 ? Math.Sqrt(diag.Select(v => (v - omega) * (v - omega)).Average()) / Math.Max(1e-12, Math.Abs(omega)) : 0;
            // Output-value row of the prediction (the y entry): its last entry against the whole row.
            double mu = m.Ov[d, d], row = Enumerable.Range(0, d + 1).Sum(j => Math.Abs(m.Ov[d, j]));
            return new HeadReadout(h, omega, diag.Sum(Math.Abs) / Math.Max(1e-12, all), spread, mu, Math.Abs(mu) / Math.Max(1e-12, row));
        }).ToList();
    }

    private static string Card(RegressionConfig c, RegressionResult r)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# {c.Name}: in-context linear regression");
        sb.AppendLine();
        sb.AppendLine($"x ~ N(0, I_{c.InputDim}), beta ~ N(0, I_{c.InputDim}) per prompt, y = beta·x + noise (sd {c.Noise}); {c.Examples} examples per training prompt. " +
                      $"One layer of softmax attention from the query (x_q, 0) over the (x, y) tokens, prediction = last output entry. " +
                      $"Multi-head: {c.Heads} heads of {c.HeadDim}; single-head: 1 head of {c.Heads * c.HeadDim}; {r.Parameters} parameters each. " +
                      $"{c.Steps} Adam steps of {c.Batch} prompts (lr {c.LearningRate}), seed {c.Seed}; {r.Seconds:0} s.");
        sb.AppendLine();
        sb.AppendLine($"Held-out mean squared error ({c.EvalPrompts:N0} prompts from functions never trained on); one GD step from 0 with step {r.GradientStepSize:0.000} fitted on training prompts:");
        sb.AppendLine();
        sb.AppendLine("| examples | multi-head | single-head | least squares | one GD step | ridge (Bayes) | multi-head / least squares |");
        sb.AppendLine("|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var s in r.Scores)
            sb.AppendLine($"| {s.Examples} | {s.MultiHead:0.0000} | {s.SingleHead:0.0000} | {s.LeastSquares:0.0000} | {s.GradientStep:0.0000} | {s.Ridge:0.0000} | {s.MultiHead / s.LeastSquares:0.000} |");
        sb.AppendLine();
        sb.AppendLine("Per-head readout (the paper's patterns: a diagonal, homogeneous key-query x block, omega; an output-value row that reads only y, mu; heads in pairs of opposite sign whose mu sum to about 0):");
        sb.AppendLine();
        sb.AppendLine("| head | omega | KQ mass on the diagonal | diagonal spread | mu | share of the OV row on y |");
        sb.AppendLine("|---:|---:|---:|---:|---:|---:|");
        foreach (var h in r.Readout)
            sb.AppendLine($"| {h.Head} | {h.Omega:0.000} | {h.DiagonalShare:P0} | {h.DiagonalSpread:0.00} | {h.Mu:0.000} | {h.LastEntryShare:P0} |");
        sb.AppendLine();
        sb.AppendLine($"Sum of mu {r.MuSum:0.000} against the sum of |mu| {r.MuAbsSum:0.000}.");
        return sb.ToString();
    }
}
