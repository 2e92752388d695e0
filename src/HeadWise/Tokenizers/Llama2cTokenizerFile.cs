using System.Text;

namespace HeadWise.Tokenizers;

/// <summary>
/// llama2.c's tokenizer.bin: int32 max_token_length, then per token float32 score, int32 byte length, UTF-8 bytes,
/// to the end of the file (the vocabulary size is not stored).
/// </summary>
public static class Llama2cTokenizerFile
{
    public static (string[] Pieces, float[] Scores) Read(string path)
    {
        if (!File.Exists(path)) throw new HeadWiseException($"{path}: file not found");
        var data = File.ReadAllBytes(path);
        if (data.Length < 4) throw new InvalidModelFileException(path, "too short for a llama2.c tokenizer (no max_token_length header)");
        int maxLen = BitConverter.ToInt32(data, 0);
        var pieces = new List<string>();
        var scores = new List<float>();
        int pos = 4;
        while (pos < data.Length)
        {
            if (pos + 8 > data.Length) throw new InvalidModelFileException(path, $"token {pieces.Count} is cut off at byte {pos}");
            float score = BitConverter.ToSingle(data, pos);
            int len = BitConverter.ToInt32(data, pos + 4);
            pos += 8;
            if (len < 0 || len > data.Length - pos || (maxLen > 0 && len > maxLen))
                throw new InvalidModelFileException(path, $"token {pieces.Count} has an invalid length {len} (max_token_length {maxLen})");
            pieces.Add(Encoding.UTF8.GetString(data, pos, len));
            scores.Add(score);
            pos += len;
        }
        return (pieces.ToArray(), scores.ToArray());
    }
}
