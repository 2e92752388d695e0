using HeadWise.Formats.Safetensors;

namespace HeadWise.Tests.Models;

/// <summary>
/// A deliberately plain GPT-2 forward pass (loops, doubles) straight from the Hugging Face tensors (Conv1D [in, out],
/// fused c_attn, tanh GELU, tied output), written from the GPT-2 paper's description, independent of HeadWise's code.
/// </summary>
internal static class ReferenceGpt2
{
    public static double[][] Logits(string safetensorsPath, int layers, int heads, double eps, int[] ids)
    {
        using var f = SafetensorsFile.Open(safetensorsPath);
        float[] T(string name) { var a = new float[f.Shape(name).Aggregate(1L, (x, y) => x * y)]; f.ReadFloats(name, a); return a; }
        var wte = T("wte.weight"); var wpe = T("wpe.weight");
        int n = ids.Length, d = (int)f.Shape("wte.weight")[1], vocab = (int)f.Shape("wte.weight")[0], hd = d / heads;
        var x = new double[n][];
        for (int t = 0; t < n; t++) x[t] = Enumerable.Range(0, d).Select(i => (double)wte[ids[t] * d + i] + wpe[t * d + i]).ToArray();
        for (int l = 0; l < layers; l++)
        {
            var p = $"h.{l}.";
            var h = x.Select(r => Norm(r, T(p + "ln_1.weight"), T(p + "ln_1.bias"), eps)).ToArray();
            var qkv = h.Select(r => Conv1D(r, T(p + "attn.c_attn.weight"), T(p + "attn.c_attn.bias"))).ToArray();
            var z = new double[n][];
            for (int t = 0; t < n; t++)
            {
                z[t] = new double[d];
                for (int head = 0; head < heads; head++)
                {
                    var scores = new double[t + 1];
                    for (int s = 0; s <= t; s++)
                    {
                        double dot = 0;
                        for (int c = 0; c < hd; c++) dot += qkv[t][head * hd + c] * qkv[s][d + head * hd + c];
                        scores[s] = dot / Math.Sqrt(hd);
                    }
                    double max = scores.Max(), sum = scores.Sum(v => Math.Exp(v - max));
                    for (int s = 0; s <= t; s++)
                    {
                        double w = Math.Exp(scores[s] - max) / sum;
                        for (int c = 0; c < hd; c++) z[t][head * hd + c] += w * qkv[s][2 * d + head * hd + c];
                    }
                }
            }
            for (int t = 0; t < n; t++)
            {
                var a = Conv1D(z[t], T(p + "attn.c_proj.weight"), T(p + "attn.c_proj.bias"));
                for (int i = 0; i < d; i++) x[t][i] += a[i];
                var up = Conv1D(Norm(x[t], T(p + "ln_2.weight"), T(p + "ln_2.bias"), eps), T(p + "mlp.c_fc.weight"), T(p + "mlp.c_fc.bias"));
                var act = up.Select(u => 0.5 * u * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (u + 0.044715 * u * u * u)))).ToArray();
                var m = Conv1D(act, T(p + "mlp.c_proj.weight"), T(p + "mlp.c_proj.bias"));
                for (int i = 0; i < d; i++) x[t][i] += m[i];
            }
        }
        return x.Select(r =>
        {
            var y = Norm(r, T("ln_f.weight"), T("ln_f.bias"), eps);
            return Enumerable.Range(0, vocab).Select(v => { double s = 0; for (int i = 0; i < d; i++) s += y[i] * wte[v * d + i]; return s; }).ToArray();
        }).ToArray();
    }

    /// <summary>y = x W + b with W stored [in, out] (GPT-2's Conv1D).</summary>
    private static double[] Conv1D(double[] x, float[] w, float[] b)
    {
        int outDim = b.Length;
        var y = b.Select(v => (double)v).ToArray();
        for (int i = 0; i < x.Length; i++)
            for (int o = 0; o < outDim; o++) y[o] += x[i] * w[i * outDim + o];
        return y;
    }

    private static double[] Norm(double[] x, float[] g, float[] b, double eps)
    {
        double mean = x.Average(), var = x.Average(v => (v - mean) * (v - mean));
        return x.Select((v, i) => (v - mean) / Math.Sqrt(var + eps) * g[i] + b[i]).ToArray();
    }
}
