using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Models;

/// <summary>
/// Sentence embeddings from an encoder, as sentence-transformers computes them for all-MiniLM-L6-v2: the last hidden
/// states averaged over the text's tokens ([CLS] and [SEP] included, as the attention mask is), then L2-normalised.
/// </summary>
public static class SentenceEmbedder
{
    public static float[] Embed(LoadedModel model, string text)
    {
        if (model.Spec.Causal) throw new HeadWiseException($"{model.Path}: embed needs an encoder (BERT); this model is a {model.Spec.Architecture} decoder");
        var ids = model.Tokenizer.Encode(text, addBos: true).Select(i => (long)i).ToList();
        if (ids.Count > model.Spec.ContextLength)
        {
            // Truncate like the Hugging Face tokenizer: keep the first tokens and the closing [SEP].
            var last = ids[^1];
            ids = ids.Take(model.Spec.ContextLength - 1).Append(last).ToList();
        }
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var tokens = torch.tensor(ids.ToArray(), [1, ids.Count]);
        var hidden = model.Transformer.Forward(tokens);          // [1, T, D]
        var pooled = hidden.mean([1]).squeeze(0);                 // every position is in the mask: a plain mean
        var normed = pooled / pooled.norm().clamp_min(HeldScalars.NormFloor);
        return normed.data<float>().ToArray();
    }

    public static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return dot / Math.Sqrt(na * nb);
    }
}
