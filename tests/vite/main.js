import { TrustContext, coreVersion } from 'tillit';
document.title = `tillit ${coreVersion} ${typeof TrustContext.fromJSON}`;
