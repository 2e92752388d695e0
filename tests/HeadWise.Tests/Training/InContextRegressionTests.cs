using HeadWise.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Training;

/// <summary>Issue 20, acceptance 4: the in-context regression task's model, baselines and per-head readout against cases built by hand.</summary>
public class InContextRegressionTests
{
    private static RegressionConfig Config(double noise = 0.5, int d = 3) => new() { InputDim = d, Noise = noise, Examples = 20, Heads = 2, HeadDim = 4, Steps = 200, Batch = 128, EvalPrompts = 2000, EvalExamples = [20] };

    /// <summary>
    /// The paper's mechanism set by hand: two heads with key-query omega I and -omega I on x and output-value mu and -mu
    /// on y. For small omega, softmax(omega s) ~ (1 + omega (s - mean s)) / n, so the pair predicts
    /// 2 mu omega (1/n) sum_l y_l (x_l·x_q - mean_l x_l·x_q): one debiased gradient step.
    /// </summary>
    private static RegressionAttention GradientPair(int d, double omega, double mu)
    {
        var m = new RegressionAttention(d, 2, d + 1, new Generator().manual_seed(1));
        using var _ = torch.no_grad();
        foreach (var p in m.Parameters) p.zero_();
        double root = Math.Sqrt(Math.Sqrt(d + 1.0));   // the score is q·k / sqrt(head_dim): split sqrt(head_dim) over W_Q and W_K
        for (int h = 0; h < 2; h++)
        {
            double sign = h == 0 ? 1 : -1;
            for (int i = 0; i < d; i++)
            {
                m.Wq[h * (d + 1) + i, i] = sign * omega * root;
                m.Wk[h * (d + 1) + i, i] = root;
            }
            m.Wv[h * (d + 1) + d, d] = 1;
            m.Wo[d, h * (d + 1) + d] = sign * mu;
        }
        return m;
    }

    [Fact]
    public void A_hand_built_head_pair_predicts_one_debiased_gradient_step()
    {
        const int d = 3, n = 20;
        double omega = 0.01, eta = 0.8, mu = eta / (2 * omega);
        using var model = GradientPair(d, omega, mu);
        var (z, q, _, x, y, xq) = RegressionRun.Prompts(64, n, Config(d: d), new Generator().manual_seed(5));
        using var _ = torch.no_grad();
        var predicted = model.Predict(z, q).to(ScalarType.Float64).data<double>().ToArray();
        var xs = x.data<double>().ToArray(); var ys = y.data<double>().ToArray(); var qs = xq.data<double>().ToArray();
        double worst = 0, spread = 0;
        for (int b = 0; b < 64; b++)
        {
            var s = Enumerable.Range(0, n).Select(l => Enumerable.Range(0, d).Sum(i => xs[(b * n + l) * d + i] * qs[b * d + i])).ToArray();
            double mean = s.Average();
            double expected = eta * Enumerable.Range(0, n).Sum(l => ys[b * n + l] * (s[l] - mean)) / n;
            worst = Math.Max(worst, Math.Abs(expected - predicted[b]));
            spread = Math.Max(spread, Math.Abs(expected));
        }
        Assert.True(spread > 0.5, $"predictions all near 0 ({spread:g3})");
        Assert.True(worst < 0.02 * spread, $"max |model - debiased GD| = {worst:g3} (predictions up to {spread:g3})");
    }

    [Fact]
    public void The_readout_recovers_the_hand_set_omega_and_mu_and_their_zero_sum()
    {
        using var model = GradientPair(3, 0.25, 1.5);
        var heads = model.HeadMatrices();
        Assert.Equal(0.25, heads[0].Kq[1, 1], 5);
        Assert.Equal(-0.25, heads[1].Kq[2, 2], 5);
        Assert.Equal(0.0, heads[0].Kq[0, 1], 9);
        Assert.Equal(1.5, heads[0].Ov[3, 3], 5);
        Assert.Equal(-1.5, heads[1].Ov[3, 3], 5);
        Assert.Equal(0.0, heads[0].Ov[3, 0], 9);
    }

    [Fact]
    public void Least_squares_is_exact_without_noise_and_training_beats_predicting_zero()
    {
        var dir = TestPaths.NewTempDir("hw-icl");
        var r = RegressionRun.Run(Config(noise: 0), dir);
        var at20 = Assert.Single(r.Scores);
        Assert.True(at20.LeastSquares < 1e-12, $"least squares MSE {at20.LeastSquares:g3} without noise");
        Assert.True(at20.Ridge < 1e-12);
        // Predicting 0 scores E[y^2] = E|beta|^2 = d = 3; 200 steps of training must do far better, and so must one GD step.
        Assert.True(at20.MultiHead < 1.5, $"multi-head MSE {at20.MultiHead:g3}");
        Assert.True(at20.GradientStep < 1.5, $"one GD step MSE {at20.GradientStep:g3}");
        Assert.Equal(2, r.Readout.Count);
        Assert.True(File.Exists(Path.Combine(dir, "README.md")) && File.Exists(Path.Combine(dir, "results.json")));
    }

    [Fact]
    public void A_config_whose_evaluation_misses_its_training_length_is_refused_by_name()
    {
        var e = Assert.Throws<HeadWiseException>(() => (Config() with { EvalExamples = [10] }).Validate("c.json"));
        Assert.Contains("eval_examples must include examples = 20", e.Message);
    }
}
