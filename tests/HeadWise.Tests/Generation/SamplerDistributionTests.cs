using HeadWise.Generation;

namespace HeadWise.Tests.Generation;

/// <summary>Nucleus sampling against the exact truncated distribution it must draw from.</summary>
public class SamplerDistributionTests
{
    [Fact]
    public void Top_p_draws_from_the_renormalised_nucleus_chi_square()
    {
        // Probabilities by construction: softmax(log p) = p. With top-p 0.75 the nucleus is the smallest most-likely set
        // whose mass reaches 0.75: {0.40, 0.25, 0.15} (0.65 < 0.75 <= 0.80), renormalised to 0.5, 0.3125, 0.1875.
        double[] p = [0.40, 0.25, 0.15, 0.10, 0.06, 0.04];
        float[] logits = p.Select(x => (float)Math.Log(x)).ToArray();
        double[] expected = [0.5, 0.3125, 0.1875, 0, 0, 0];
        const int draws = 20_000;
        var counts = new int[p.Length];
        var sampler = new Sampler(temperature: 1.0, topP: 0.75, seed: 20261129);
        for (int i = 0; i < draws; i++) counts[sampler.Next(logits)]++;

        Assert.Equal(0, counts[3] + counts[4] + counts[5]); // nothing outside the nucleus, ever
        double chi2 = 0;
        for (int k = 0; k < 3; k++) chi2 += Math.Pow(counts[k] - draws * expected[k], 2) / (draws * expected[k]);
        // 2 degrees of freedom: P(chi2 > x) = exp(-x / 2), so 27.6 is a false-failure rate of 1e-6 for a fair sampler.
        // A sampler that kept the wrong set or did not renormalise is off by hundreds of counts here (chi2 in the hundreds).
        Assert.True(chi2 < 27.6, $"chi2 {chi2:F1} over counts [{string.Join(", ", counts)}]");
    }

    [Fact]
    public void Temperature_reshapes_the_distribution_before_the_nucleus()
    {
        // Temperature 2 over log p gives weights sqrt(p): [0.5, 0.5, 0.25, 0.25]/1.5 -> 1/3, 1/3, 1/6, 1/6; top-p 1 keeps all.
        double[] p = [0.25, 0.25, 0.0625, 0.0625];
        float[] logits = p.Select(x => (float)Math.Log(x)).ToArray();
        double[] expected = [1 / 3.0, 1 / 3.0, 1 / 6.0, 1 / 6.0];
        const int draws = 20_000;
        var counts = new int[p.Length];
        var sampler = new Sampler(temperature: 2.0, topP: 1.0, seed: 7);
        for (int i = 0; i < draws; i++) counts[sampler.Next(logits)]++;
        double chi2 = 0;
        for (int k = 0; k < p.Length; k++) chi2 += Math.Pow(counts[k] - draws * expected[k], 2) / (draws * expected[k]);
        // 3 degrees of freedom: 30.7 is a false-failure rate of about 1e-6.
        Assert.True(chi2 < 30.7, $"chi2 {chi2:F1} over counts [{string.Join(", ", counts)}]");
    }
}
