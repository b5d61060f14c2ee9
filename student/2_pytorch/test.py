"""Predict a label for every challenge image and write predictions.csv."""
import argparse
import csv

import torch
import torchvision.transforms as transforms

from challenge_data import ChallengeData

parser = argparse.ArgumentParser(description='CIFAR-10 challenge predictions')
parser.add_argument('--model', required=True,
                    help='the saved model to evaluate (e.g. mymodel.pt)')
parser.add_argument('--test-dir', default='data',
                    help='directory that contains test_images.npy')
parser.add_argument('--test-batch-size', type=int, default=1000, metavar='N',
                    help='input batch size for testing (default: 1000)')
parser.add_argument('--flip-tta', action='store_true', default=False,
                    help='average the scores of each image and its mirror image')
parser.add_argument('--output', default='predictions.csv',
                    help='where to write the predictions (default: predictions.csv)')
parser.add_argument('--no-cuda', action='store_true', default=False,
                    help='disables CUDA')
args = parser.parse_args()
device = torch.device('cuda' if not args.no_cuda and torch.cuda.is_available() else 'cpu')

# The same normalization as train.py
cifar10_mean_color = [0.49131522, 0.48209435, 0.44646862]
cifar10_std_color = [0.01897398, 0.03039277, 0.03872553]
transform = transforms.Compose([
    transforms.ToTensor(),
    transforms.Normalize(cifar10_mean_color, cifar10_std_color),
])
test_dataset = ChallengeData(args.test_dir, transform=transform)
# No shuffling: row i of predictions.csv is image i of test_images.npy.
test_loader = torch.utils.data.DataLoader(test_dataset, batch_size=args.test_batch_size,
                                          shuffle=False)

# train.py saves the whole module, so unpickling it needs the models package.
model = torch.load(args.model, map_location=device, weights_only=False)
model.eval()

predictions = []
with torch.no_grad():
    for images in test_loader:
        images = images.to(device)
        scores = model(images)
        if args.flip_tta:
            scores = scores.softmax(dim=1) + model(images.flip(3)).softmax(dim=1)
        predictions.extend(scores.argmax(dim=1).tolist())

with open(args.output, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['image_id', 'label'])
    for image_id, label in enumerate(predictions):
        writer.writerow([image_id, label])
print('wrote {} predictions to {}'.format(len(predictions), args.output))
