using HeadWise.Formats;
using HeadWise.Models;

namespace HeadWise.Tests.Formats;

/// <summary>A deliberately plain BERT encoder (loops, doubles) for checking weights, independent of the library's forward pass.</summary>
internal static class ReferenceBert
{
    public static float[] Forward(ITensorSource w, ModelSpec s, long[] ids)
    {
        int n = ids.Length, d = s.Dim, h = s.Heads, hd = s.HeadDim;
        float[] T(string name) { var a = new float[w.Shape(name).Aggregate(1L, (x, y) => x * y)]; w.ReadFloats(name, a); return a; }

        var word = T("token_embd.weight"); var pos = T("position_embd.weight"); var types = T("token_types.weight");
        var x = new double[n, d];
        for (var t = 0; t < n; t++)
            for (var i = 0; i < d; i++) x[t, i] = word[ids[t] * d + i] + pos[t * d + i] + types[i];
        x = Norm(x, T("token_embd_norm.weight"), T("token_embd_norm.bias"), s.NormEps);

        for (var l = 0; l < s.Layers; l++)
        {
            var p = $"blk.{l}.";
            var q = Linear(x, T(p + "attn_q.weight"), T(p + "attn_q.bias"));
            var k = Linear(x, T(p + "attn_k.weight"), T(p + "attn_k.bias"));
            var v = Linear(x, T(p + "attn_v.weight"), T(p + "attn_v.bias"));
            var ctx = new double[n, d];
            for (var head = 0; head < h; head++)
                for (var i = 0; i < n; i++)
                {
                    var scores = new double[n];
                    for (var j = 0; j < n; j++)
                    {
                        double dot = 0;
                        for (var c = 0; c < hd; c++) dot += q[i, head * hd + c] * k[j, head * hd + c];
                        scores[j] = dot / Math.Sqrt(hd);
                    }
                    var max = scores.Max();
                    var sum = scores.Sum(sc => Math.Exp(sc - max));
                    for (var j = 0; j < n; j++)
                    {
                        var pr = Math.Exp(scores[j] - max) / sum;
                        for (var c = 0; c < hd; c++) ctx[i, head * hd + c] += pr * v[j, head * hd + c];
                    }
                }
            var attn = Linear(ctx, T(p + "attn_output.weight"), T(p + "attn_output.bias"));
            x = Norm(Add(x, attn), T(p + "attn_output_norm.weight"), T(p + "attn_output_norm.bias"), s.NormEps);
            var up = Linear(x, T(p + "ffn_up.weight"), T(p + "ffn_up.bias"));
            for (var t = 0; t < n; t++)
                for (var i = 0; i < up.GetLength(1); i++) up[t, i] = 0.5 * up[t, i] * (1 + Erf(up[t, i] / Math.Sqrt(2)));
            var down = Linear(up, T(p + "ffn_down.weight"), T(p + "ffn_down.bias"));
            x = Norm(Add(x, down), T(p + "layer_output_norm.weight"), T(p + "layer_output_norm.bias"), s.NormEps);
        }
        var result = new float[n * d];
        for (var t = 0; t < n; t++) for (var i = 0; i < d; i++) result[t * d + i] = (float)x[t, i];
        return result;
    }

    /// <summary>y = x W^T + b with W in [out, in] order.</summary>
    private static double[,] Linear(double[,] x, float[] weight, float[] bias)
    {
        int n = x.GetLength(0), inDim = x.GetLength(1), outDim = bias.Length;
        var y = new double[n, outDim];
        for (var t = 0; t < n; t++)
            for (var o = 0; o < outDim; o++)
            {
                double acc = bias[o];
                for (var i = 0; i < inDim; i++) acc += x[t, i] * weight[o * inDim + i];
                y[t, o] = acc;
            }
        return y;
    }

    private static double[,] Add(double[,] a, double[,] b)
    {
        var r = (double[,])a.Clone();
        for (var t = 0; t < a.GetLength(0); t++) for (var i = 0; i < a.GetLength(1); i++) r[t, i] += b[t, i];
        return r;
    }

    private static double[,] Norm(double[,] x, float[] gamma, float[] beta, double eps)
    {
        int n = x.GetLength(0), d = x.GetLength(1);
        var y = new double[n, d];
        for (var t = 0; t < n; t++)
        {
            double mean = 0, var = 0;
            for (var i = 0; i < d; i++) mean += x[t, i];
            mean /= d;
            for (var i = 0; i < d; i++) var += (x[t, i] - mean) * (x[t, i] - mean);
            var /= d;
            for (var i = 0; i < d; i++) y[t, i] = (x[t, i] - mean) / Math.Sqrt(var + eps) * gamma[i] + beta[i];
        }
        return y;
    }

    /// <summary>erf by Abramowitz &amp; Stegun 7.1.26 (|error| &lt; 1.5e-7), ample for a 2e-3 comparison.</summary>
    private static double Erf(double x)
    {
        var sign = Math.Sign(x);
        x = Math.Abs(x);
        var t = 1 / (1 + 0.3275911 * x);
        var y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.Exp(-x * x);
        return sign * y;
    }
}
